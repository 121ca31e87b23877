build-fuzz/obj/client/cmd_submit.o: client/cmd_submit.c client/client.h \
  common/config.h common/err.h common/keys.h common/redis.h common/buf.h \
  common/iotests.h common/json.h

client/client.h:

common/config.h:

common/err.h:

common/keys.h:

common/redis.h:

common/buf.h:

common/iotests.h:

common/json.h:
