build-fuzz/obj/worker/kind_refactor.o: worker/kind_refactor.c \
  worker/gen.h worker/job_ctx.h common/err.h common/job.h \
  common/criteria.h common/iotests.h common/keys.h common/redis.h \
  sandbox/sbx.h model/llm.h common/config.h worker/prompts.h \
  worker/kind_model.h worker/eval.h worker/kinds.h

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

worker/kind_model.h:

worker/eval.h:

worker/kinds.h:
