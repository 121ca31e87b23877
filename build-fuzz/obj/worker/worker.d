build-fuzz/obj/worker/worker.o: worker/worker.c worker/worker.h \
  common/err.h common/keys.h model/llm.h common/config.h common/redis.h \
  sandbox/sbx.h common/clock.h worker/heartbeat.h worker/job_ctx_int.h \
  worker/job_ctx.h common/job.h common/criteria.h common/iotests.h \
  common/queue.h worker/kinds.h common/log.h worker/wk_metrics.h \
  common/metrics.h common/buf.h

worker/worker.h:

common/err.h:

common/keys.h:

model/llm.h:

common/config.h:

common/redis.h:

sandbox/sbx.h:

common/clock.h:

worker/heartbeat.h:

worker/job_ctx_int.h:

worker/job_ctx.h:

common/job.h:

common/criteria.h:

common/iotests.h:

common/queue.h:

worker/kinds.h:

common/log.h:

worker/wk_metrics.h:

common/metrics.h:

common/buf.h:
