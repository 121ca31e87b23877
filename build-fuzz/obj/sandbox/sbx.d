build-fuzz/obj/sandbox/sbx.o: sandbox/sbx.c sandbox/sbx.h \
  sandbox/sbx_cgroup.h sandbox/sbx_host.h sandbox/sbx_child.h \
  sandbox/sbx_slot.h

sandbox/sbx.h:

sandbox/sbx_cgroup.h:

sandbox/sbx_host.h:

sandbox/sbx_child.h:

sandbox/sbx_slot.h:
