build-fuzz/obj/worker/heartbeat.o: worker/heartbeat.c worker/heartbeat.h \
  worker/worker.h common/err.h common/keys.h model/llm.h common/config.h \
  common/redis.h sandbox/sbx.h common/clock.h common/log.h \
  common/queue.h

worker/heartbeat.h:

worker/worker.h:

common/err.h:

common/keys.h:

model/llm.h:

common/config.h:

common/redis.h:

sandbox/sbx.h:

common/clock.h:

common/log.h:

common/queue.h:
