import { Outlet } from 'react-router';

import { Header } from './Header';

export function Layout() {
  return (
    <>
      <Header />
      <main id="main" className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
