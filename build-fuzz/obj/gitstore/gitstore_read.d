build-fuzz/obj/gitstore/gitstore_read.o: gitstore/gitstore_read.c \
  gitstore/gitstore_int.h common/buf.h gitstore/gitstore.h common/err.h \
  common/redis.h

gitstore/gitstore_int.h:

common/buf.h:

gitstore/gitstore.h:

common/err.h:

common/redis.h:
