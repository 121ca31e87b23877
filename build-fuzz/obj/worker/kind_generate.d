build-fuzz/obj/worker/kind_generate.o: worker/kind_generate.c \
  worker/eval.h common/criteria.h common/err.h common/iotests.h \
  common/job.h sandbox/sbx.h worker/gen.h worker/job_ctx.h common/keys.h \
  common/redis.h model/llm.h common/config.h worker/prompts.h \
  worker/kind_model.h worker/kinds.h model/extract.h

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

worker/kind_model.h:

worker/kinds.h:

model/extract.h:
