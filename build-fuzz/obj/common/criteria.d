build-fuzz/obj/common/criteria.o: common/criteria.c common/criteria.h \
  common/err.h

common/criteria.h:

common/err.h:
