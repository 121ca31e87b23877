build-fuzz/obj/worker/eval_io.o: worker/eval_io.c worker/eval_io.h \
  common/buf.h worker/eval.h common/criteria.h common/err.h \
  common/iotests.h common/job.h sandbox/sbx.h worker/eval_report.h \
  common/json.h

worker/eval_io.h:

common/buf.h:

worker/eval.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

worker/eval_report.h:

common/json.h:
