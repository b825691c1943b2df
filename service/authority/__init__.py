"""Certificate authority (J-LIS role): issues and checks card user certificates."""
