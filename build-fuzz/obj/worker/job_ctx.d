build-fuzz/obj/worker/job_ctx.o: worker/job_ctx.c worker/job_ctx_int.h \
  worker/heartbeat.h worker/worker.h common/err.h common/keys.h \
  model/llm.h common/config.h common/redis.h sandbox/sbx.h \
  worker/job_ctx.h common/job.h common/criteria.h common/iotests.h \
  common/queue.h common/clock.h common/log.h

worker/job_ctx_int.h:

worker/heartbeat.h:

worker/worker.h:

common/err.h:

common/keys.h:

model/llm.h:

common/config.h:

common/redis.h:

sandbox/sbx.h:

worker/job_ctx.h:

common/job.h:

common/criteria.h:

common/iotests.h:

common/queue.h:

common/clock.h:

common/log.h:
