build-fuzz/obj/common/startup.o: common/startup.c common/startup.h \
  common/config.h common/err.h common/keys.h common/redis.h common/log.h

common/startup.h:

common/config.h:

common/err.h:

common/keys.h:

common/redis.h:

common/log.h:
