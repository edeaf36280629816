module local/atlas-sum-probe

go 1.26.4

require ariga.io/atlas v1.2.3
