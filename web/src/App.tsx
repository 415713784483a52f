import { BrowserRouter, Route, Routes } from 'react-router';

import { Layout } from './components/Layout';
import { RequireAuth } from './components/RequireAuth';
import { SessionProvider } from './components/SessionProvider';
import { ToastProvider } from './components/Toasts';
import { NotFoundPage } from './pages/NotFoundPage';
import { RecordingPage } from './pages/RecordingPage';
import { RecordingsPage } from './pages/RecordingsPage';
import { RoomPage } from './pages/RoomPage';
import { RoomsPage } from './pages/RoomsPage';
import { SignInPage } from './pages/SignInPage';

export function App() {
  return (
    <SessionProvider>
      <BrowserRouter>
        <ToastProvider>
          <Routes>
            <Route element={<Layout />}>
              <Route path="/signin" element={<SignInPage />} />
              {/* A public room admits guests: the page decides whether sign-in is needed. */}
              <Route path="/rooms/:slug" element={<RoomPage />} />
              <Route element={<RequireAuth />}>
                <Route index element={<RoomsPage />} />
                <Route path="/recordings" element={<RecordingsPage />} />
                <Route path="/recording/:id" element={<RecordingPage />} />
              </Route>
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </ToastProvider>
      </BrowserRouter>
    </SessionProvider>
  );
}
