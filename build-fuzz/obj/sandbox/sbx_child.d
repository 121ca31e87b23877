build-fuzz/obj/sandbox/sbx_child.o: sandbox/sbx_child.c \
  sandbox/sbx_child.h

sandbox/sbx_child.h:
