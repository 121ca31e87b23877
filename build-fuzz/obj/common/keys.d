build-fuzz/obj/common/keys.o: common/keys.c common/keys.h common/err.h

common/keys.h:

common/err.h:
