PATINFO ; demo routine: print a patient's name and age
 ;
EN(DFN) ; entry point
 N NAME,AGE
 S NAME=$P($G(^DPT(DFN,0)),"^",1)
 S AGE=$$AGE(DFN)
 W !,"Name: ",NAME,"  Age: ",AGE
 Q
AGE(DFN) ; compute age in years
 Q:'$D(^DPT(DFN)) ""
 Q $P($G(^DPT(DFN,0)),"^",3)
