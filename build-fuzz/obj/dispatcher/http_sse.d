build-fuzz/obj/dispatcher/http_sse.o: dispatcher/http_sse.c \
  common/clock.h dispatcher/http_int.h common/buf.h dispatcher/http.h \
  common/job.h common/criteria.h common/err.h common/iotests.h \
  common/keys.h common/redis.h common/json.h common/log.h common/queue.h

common/clock.h:

dispatcher/http_int.h:

common/buf.h:

dispatcher/http.h:

common/job.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/keys.h:

common/redis.h:

common/json.h:

common/log.h:

common/queue.h:
