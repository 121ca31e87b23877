build-fuzz/obj/client/cli.o: client/cli.c client/client.h common/config.h \
  common/err.h common/keys.h common/redis.h common/json.h common/queue.h

client/client.h:

common/config.h:

common/err.h:

common/keys.h:

common/redis.h:

common/json.h:

common/queue.h:
