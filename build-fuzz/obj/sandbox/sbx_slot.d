build-fuzz/obj/sandbox/sbx_slot.o: sandbox/sbx_slot.c sandbox/sbx_slot.h

sandbox/sbx_slot.h:
