build-fuzz/obj/dispatcher/disp_metrics.o: dispatcher/disp_metrics.c \
  dispatcher/dispatcher.h common/job.h common/criteria.h common/err.h \
  common/iotests.h common/keys.h common/queue.h common/redis.h \
  common/log.h common/metrics.h common/buf.h

dispatcher/dispatcher.h:

common/job.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/keys.h:

common/queue.h:

common/redis.h:

common/log.h:

common/metrics.h:

common/buf.h:
