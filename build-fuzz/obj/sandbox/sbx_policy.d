build-fuzz/obj/sandbox/sbx_policy.o: sandbox/sbx_policy.c \
  sandbox/sbx_policy.h

sandbox/sbx_policy.h:
