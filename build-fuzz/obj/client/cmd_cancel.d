build-fuzz/obj/client/cmd_cancel.o: client/cmd_cancel.c client/client.h \
  common/config.h common/err.h common/keys.h common/redis.h \
  common/clock.h common/json.h common/queue.h

client/client.h:

common/config.h:

common/err.h:

common/keys.h:

common/redis.h:

common/clock.h:

common/json.h:

common/queue.h:
