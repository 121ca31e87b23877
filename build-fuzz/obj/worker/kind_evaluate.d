build-fuzz/obj/worker/kind_evaluate.o: worker/kind_evaluate.c \
  worker/eval.h common/criteria.h common/err.h common/iotests.h \
  common/job.h sandbox/sbx.h worker/kind_model.h worker/gen.h \
  worker/job_ctx.h common/keys.h common/redis.h model/llm.h \
  common/config.h worker/prompts.h worker/kinds.h

worker/eval.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

worker/kind_model.h:

worker/gen.h:

worker/job_ctx.h:

common/keys.h:

common/redis.h:

model/llm.h:

common/config.h:

worker/prompts.h:

worker/kinds.h:
