build-fuzz/obj/worker/eval_report.o: worker/eval_report.c \
  worker/eval_report.h common/buf.h common/criteria.h common/err.h \
  worker/eval.h common/iotests.h common/job.h sandbox/sbx.h \
  common/json.h worker/eval_check.h

worker/eval_report.h:

common/buf.h:

common/criteria.h:

common/err.h:

worker/eval.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

common/json.h:

worker/eval_check.h:
