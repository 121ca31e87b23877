build-fuzz/obj/worker/eval_check.o: worker/eval_check.c \
  worker/eval_check.h

worker/eval_check.h:
