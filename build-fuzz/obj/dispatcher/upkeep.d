build-fuzz/obj/dispatcher/upkeep.o: dispatcher/upkeep.c \
  dispatcher/dispatcher.h common/job.h common/criteria.h common/err.h \
  common/iotests.h common/keys.h common/queue.h common/redis.h \
  common/log.h

dispatcher/dispatcher.h:

common/job.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/keys.h:

common/queue.h:

common/redis.h:

common/log.h:
