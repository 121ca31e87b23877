build-fuzz/obj/gitstore/gitstore_msg.o: gitstore/gitstore_msg.c \
  gitstore/gitstore_int.h common/buf.h gitstore/gitstore.h common/err.h \
  common/redis.h

gitstore/gitstore_int.h:

common/buf.h:

gitstore/gitstore.h:

common/err.h:

common/redis.h:
