build-fuzz/obj/gitstore/gitstore_redis.o: gitstore/gitstore_redis.c \
  common/fence_lua.h gitstore/gitstore_int.h common/buf.h \
  gitstore/gitstore.h common/err.h common/redis.h

common/fence_lua.h:

gitstore/gitstore_int.h:

common/buf.h:

gitstore/gitstore.h:

common/err.h:

common/redis.h:
