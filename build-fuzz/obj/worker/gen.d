build-fuzz/obj/worker/gen.o: worker/gen.c worker/gen.h worker/job_ctx.h \
  common/err.h common/job.h common/criteria.h common/iotests.h \
  common/keys.h common/redis.h sandbox/sbx.h model/llm.h common/config.h \
  worker/prompts.h common/clock.h model/extract.h common/log.h \
  worker/worker.h

worker/gen.h:

worker/job_ctx.h:

common/err.h:

common/job.h:

common/criteria.h:

common/iotests.h:

common/keys.h:

common/redis.h:

sandbox/sbx.h:

model/llm.h:

common/config.h:

worker/prompts.h:

common/clock.h:

model/extract.h:

common/log.h:

worker/worker.h:
