build-fuzz/obj/gitstore/gitstore_export.o: gitstore/gitstore_export.c \
  gitstore/gitstore_int.h common/buf.h gitstore/gitstore.h common/err.h \
  common/redis.h

gitstore/gitstore_int.h:

common/buf.h:

gitstore/gitstore.h:

common/err.h:

common/redis.h:
