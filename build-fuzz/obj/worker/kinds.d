build-fuzz/obj/worker/kinds.o: worker/kinds.c worker/kinds.h \
  worker/job_ctx.h common/err.h common/job.h common/criteria.h \
  common/iotests.h common/keys.h common/redis.h sandbox/sbx.h

worker/kinds.h:

worker/job_ctx.h:

common/err.h:

common/job.h:

common/criteria.h:

common/iotests.h:

common/keys.h:

common/redis.h:

sandbox/sbx.h:
