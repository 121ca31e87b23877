build-fuzz/obj/common/json_strict.o: common/json_strict.c \
  common/json_strict.h common/err.h common/json.h common/utf8.h

common/json_strict.h:

common/err.h:

common/json.h:

common/utf8.h:
