build-fuzz/obj/worker/loop_step.o: worker/loop_step.c worker/kind_model.h \
  worker/eval.h common/criteria.h common/err.h common/iotests.h \
  common/job.h sandbox/sbx.h worker/gen.h worker/job_ctx.h common/keys.h \
  common/redis.h model/llm.h common/config.h worker/prompts.h \
  worker/loop.h gitstore/gitstore.h worker/loop_report.h \
  worker/loop_rules.h common/clock.h common/json.h common/log.h

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

worker/loop.h:

gitstore/gitstore.h:

worker/loop_report.h:

worker/loop_rules.h:

common/clock.h:

common/json.h:

common/log.h:
