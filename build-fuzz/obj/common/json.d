build-fuzz/obj/common/json.o: common/json.c common/json.h common/err.h

common/json.h:

common/err.h:
