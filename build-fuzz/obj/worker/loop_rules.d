build-fuzz/obj/worker/loop_rules.o: worker/loop_rules.c \
  worker/loop_rules.h common/err.h common/json.h

worker/loop_rules.h:

common/err.h:

common/json.h:
