build-fuzz/obj/common/queue_lua.o: common/queue_lua.c common/queue_lua.h \
  common/redis.h common/err.h common/fence_lua.h

common/queue_lua.h:

common/redis.h:

common/err.h:

common/fence_lua.h:
