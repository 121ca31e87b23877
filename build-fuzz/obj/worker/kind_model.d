build-fuzz/obj/worker/kind_model.o: worker/kind_model.c \
  worker/kind_model.h worker/eval.h common/criteria.h common/err.h \
  common/iotests.h common/job.h sandbox/sbx.h worker/gen.h \
  worker/job_ctx.h common/keys.h common/redis.h model/llm.h \
  common/config.h worker/prompts.h

worker/kind_model.h:

worker/eval.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

worker/gen.h:

worker/job_ctx.h:

common/keys.h:

common/redis.h:

model/llm.h:

common/config.h:

worker/prompts.h:
