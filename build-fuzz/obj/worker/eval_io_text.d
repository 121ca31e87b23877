build-fuzz/obj/worker/eval_io_text.o: worker/eval_io_text.c \
  worker/eval_io.h common/buf.h worker/eval.h common/criteria.h \
  common/err.h common/iotests.h common/job.h sandbox/sbx.h

worker/eval_io.h:

common/buf.h:

worker/eval.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:
