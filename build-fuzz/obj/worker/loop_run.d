build-fuzz/obj/worker/loop_run.o: worker/loop_run.c worker/loop.h \
  common/err.h worker/eval.h common/criteria.h common/iotests.h \
  common/job.h sandbox/sbx.h gitstore/gitstore.h worker/job_ctx.h \
  common/keys.h common/redis.h model/llm.h common/config.h \
  worker/loop_report.h worker/loop_rules.h worker/prompts.h \
  common/clock.h

worker/loop.h:

common/err.h:

worker/eval.h:

common/criteria.h:

common/iotests.h:

common/job.h:

sandbox/sbx.h:

gitstore/gitstore.h:

worker/job_ctx.h:

common/keys.h:

common/redis.h:

model/llm.h:

common/config.h:

worker/loop_report.h:

worker/loop_rules.h:

worker/prompts.h:

common/clock.h:
