build-fuzz/obj/worker/kind_loop.o: worker/kind_loop.c common/clock.h \
  common/json.h common/err.h worker/kinds.h worker/job_ctx.h \
  common/job.h common/criteria.h common/iotests.h common/keys.h \
  common/redis.h sandbox/sbx.h common/log.h worker/loop.h worker/eval.h \
  gitstore/gitstore.h model/llm.h common/config.h worker/loop_report.h \
  worker/loop_rules.h worker/prompts.h worker/wk_metrics.h \
  common/metrics.h common/buf.h worker/worker.h

common/clock.h:

common/json.h:

common/err.h:

worker/kinds.h:

worker/job_ctx.h:

common/job.h:

common/criteria.h:

common/iotests.h:

common/keys.h:

common/redis.h:

sandbox/sbx.h:

common/log.h:

worker/loop.h:

worker/eval.h:

gitstore/gitstore.h:

model/llm.h:

common/config.h:

worker/loop_report.h:

worker/loop_rules.h:

worker/prompts.h:

worker/wk_metrics.h:

common/metrics.h:

common/buf.h:

worker/worker.h:
