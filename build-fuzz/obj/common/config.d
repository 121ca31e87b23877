build-fuzz/obj/common/config.o: common/config.c common/config.h \
  common/err.h

common/config.h:

common/err.h:
