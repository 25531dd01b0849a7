COUNTER ; count entries in a global
 N I,C S C=0,I=""
 F  S I=$O(^TMP($J,I)) Q:I=""  S C=C+1
 W "Count: ",C,!
 Q
