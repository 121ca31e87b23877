build-fuzz/obj/common/log.o: common/log.c common/log.h common/clock.h \
  common/utf8.h

common/log.h:

common/clock.h:

common/utf8.h:
