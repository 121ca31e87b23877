build-fuzz/obj/common/queue.o: common/queue.c common/queue.h common/err.h \
  common/keys.h common/redis.h common/log.h common/queue_lua.h

common/queue.h:

common/err.h:

common/keys.h:

common/redis.h:

common/log.h:

common/queue_lua.h:
