build-fuzz/obj/sandbox/sbx_host.o: sandbox/sbx_host.c sandbox/sbx_host.h \
  sandbox/sbx.h sandbox/sbx_child.h sandbox/sbx_slot.h \
  sandbox/sbx_policy.h

sandbox/sbx_host.h:

sandbox/sbx.h:

sandbox/sbx_child.h:

sandbox/sbx_slot.h:

sandbox/sbx_policy.h:
