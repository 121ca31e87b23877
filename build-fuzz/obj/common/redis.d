build-fuzz/obj/common/redis.o: common/redis.c common/redis.h common/err.h \
  common/log.h

common/redis.h:

common/err.h:

common/log.h:
