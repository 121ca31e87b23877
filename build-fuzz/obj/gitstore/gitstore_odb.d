build-fuzz/obj/gitstore/gitstore_odb.o: gitstore/gitstore_odb.c \
  gitstore/gitstore_int.h common/buf.h gitstore/gitstore.h common/err.h \
  common/redis.h

gitstore/gitstore_int.h:

common/buf.h:

gitstore/gitstore.h:

common/err.h:

common/redis.h:
