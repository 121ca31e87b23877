build-fuzz/obj/client/cmd_git.o: client/cmd_git.c client/client.h \
  common/config.h common/err.h common/keys.h common/redis.h \
  gitstore/gitstore.h common/queue.h

client/client.h:

common/config.h:

common/err.h:

common/keys.h:

common/redis.h:

gitstore/gitstore.h:

common/queue.h:
