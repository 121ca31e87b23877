build-fuzz/obj/sandbox/sbx_pool.o: sandbox/sbx_pool.c sandbox/sbx.h \
  sandbox/sbx_cgroup.h sandbox/sbx_host.h sandbox/sbx_child.h \
  sandbox/sbx_slot.h

sandbox/sbx.h:

sandbox/sbx_cgroup.h:

sandbox/sbx_host.h:

sandbox/sbx_child.h:

sandbox/sbx_slot.h:
