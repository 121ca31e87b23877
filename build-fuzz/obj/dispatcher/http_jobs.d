build-fuzz/obj/dispatcher/http_jobs.o: dispatcher/http_jobs.c \
  common/clock.h dispatcher/http_int.h common/buf.h dispatcher/http.h \
  common/job.h common/criteria.h common/err.h common/iotests.h \
  common/keys.h common/redis.h common/json.h common/json_strict.h \
  common/queue.h

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

common/json_strict.h:

common/queue.h:
