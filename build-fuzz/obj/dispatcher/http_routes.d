build-fuzz/obj/dispatcher/http_routes.o: dispatcher/http_routes.c \
  dispatcher/http_int.h common/buf.h dispatcher/http.h common/job.h \
  common/criteria.h common/err.h common/iotests.h common/keys.h \
  common/redis.h common/json.h

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
