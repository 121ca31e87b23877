build-fuzz/obj/sandbox/sbx_cgroup.o: sandbox/sbx_cgroup.c \
  sandbox/sbx_cgroup.h sandbox/sbx_slot.h

sandbox/sbx_cgroup.h:

sandbox/sbx_slot.h:
