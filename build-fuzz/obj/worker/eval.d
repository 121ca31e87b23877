build-fuzz/obj/worker/eval.o: worker/eval.c worker/eval.h \
  common/criteria.h common/err.h common/iotests.h common/job.h \
  sandbox/sbx.h worker/eval_io.h common/buf.h worker/eval_report.h \
  common/json.h common/clock.h worker/wk_metrics.h common/metrics.h

worker/eval.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

worker/eval_io.h:

common/buf.h:

worker/eval_report.h:

common/json.h:

common/clock.h:

worker/wk_metrics.h:

common/metrics.h:
